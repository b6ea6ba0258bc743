/* test_lang_rules.c — table-driven tests of language rules (lang_rules.c,
 * lang_state.c): load errors with their JSON paths and positions, filter
 * rules, every aggregate (with per-aggregate where), the lookback's edges,
 * group_by tuples and missing key fields, dedupe, the window bound, expiry
 * leaving no state, the changelog round trip, a brute-force differential test
 * against aggregates recomputed naively, and the cookbook of
 * docs/rule-language.md run on hand-made transactions. Time is fed, never
 * slept. */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lang_rules.h"
#include "rules_file.h"

#include "lang_test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1710513000000LL /* 2024-03-15T14:30:00Z */
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL

/* ---- records and alerts ---- */

typedef struct tx {
    char id[24], amt[32], acct[16], merch[16], cat[16], cp[16];
    fw_txn t;
} tx;

static fw_str opt(char *buf, size_t size, const char *s) {
    if (!s)
        return FW_STR_NULL;
    snprintf(buf, size, "%s", s);
    return fw_str_c(buf);
}

static void mk(tx *x, const char *id, int64_t ts, const char *amt, const char *acct,
               const char *merch, const char *cat, const char *cp) {
    memset(x, 0, sizeof(*x));
    x->t.transaction_id = opt(x->id, sizeof(x->id), id);
    x->t.ts_ms = ts;
    x->t.amount_raw = opt(x->amt, sizeof(x->amt), amt);
    x->t.amount = strtod(amt, NULL);
    x->t.account_id = opt(x->acct, sizeof(x->acct), acct);
    x->t.merchant_id = opt(x->merch, sizeof(x->merch), merch);
    x->t.merchant_category = opt(x->cat, sizeof(x->cat), cat);
    x->t.counterparty_id = opt(x->cp, sizeof(x->cp), cp);
    x->t.type = cp ? FW_TXN_TRANSFER : FW_TXN_PURCHASE;
}

typedef struct got {
    char rule[FW_LANG_MAX_ID], entity_type[32], entity[128], reason[256], values[512];
    int64_t ts, wstart, wend;
    size_t nevidence;
    char evidence0[FW_LANG_TXN_ID_MAX + 1];
    uint64_t overflow;
} got;

typedef struct sink {
    got a[4096];
    size_t n;
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    assert_true(s->n < N(s->a));
    got *g = &s->a[s->n++];
    snprintf(g->rule, sizeof(g->rule), "%s", a->rule->id);
    snprintf(g->entity_type, sizeof(g->entity_type), "%s", a->entity_type);
    snprintf(g->entity, sizeof(g->entity), "%.*s", (int)a->entity.len, a->entity.ptr);
    snprintf(g->reason, sizeof(g->reason), "%.*s", (int)a->reason.len, a->reason.ptr);
    size_t o = 0;
    g->values[0] = '\0';
    for (size_t i = 0; i < a->nvalues && o < sizeof(g->values) - 64; i++) {
        char d[FW_DEC_STR_MAX];
        if (a->values[i].value.type == FW_XT_NUM)
            fw_dec_format(a->values[i].value.u.num, d, sizeof(d));
        else
            snprintf(d, sizeof(d), "missing");
        o += (size_t)snprintf(g->values + o, sizeof(g->values) - o, "%s%s=%s", i ? " " : "",
                              a->values[i].name, d);
    }
    g->ts = a->event_time;
    g->wstart = a->window_start;
    g->wend = a->window_end;
    g->nevidence = a->nevidence;
    g->overflow = a->window_overflow;
    if (a->nevidence)
        snprintf(g->evidence0, sizeof(g->evidence0), "%.*s", (int)a->evidence[0].id.len,
                 a->evidence[0].id.ptr);
}

static void run(fw_lang_state *st, tx *x, size_t n, sink *s) {
    for (size_t i = 0; i < n; i++) {
        fw_lang_input in = { .txn = &x[i].t };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, s);
    }
}

/* ---- load errors ---- */

static void test_load_errors(void **state) {
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"filtr\", \"when\": \"true\"}]}",
          "rules[0].type: expected \"filter\", \"aggregate\", \"sequence\" or \"score\", got \"filtr\", did you mean \"filter\"? (line 1, column 32)" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"filter\", \"when\": \"true\", \"entity\": \"account\"}]}",
          "rules[0].entity: an entity type alone names the group_by values, and this rule has no group_by" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"filter\", \"when\": \"true\",\n"
          "  \"entity\": [{\"type\": \"card\", \"ids\": \"card_id\"}]}]}",
          "rules[0].entity[0].ids: unknown key in an entity, did you mean \"id\"? (line 2, column 38)" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"filter\", \"when\": \"true\",\n"
          "  \"entity\": [{\"type\": \"card\", \"id\": \"card_idd\"}]}]}",
          "rules[0].entity[0].id: unknown field \"card_idd\", did you mean \"card_id\"?" },
        { "{\"rules\": [{\"id\": \"x\", \"type\": \"filter\", \"when\": \"true\",\n"
          "  \"entity\": [{\"type\": \"\", \"id\": \"card_id\"}]}]}",
          "rules[0].entity[0].type: expected an entity type like \"account\" of 1 to 31 bytes, got \"\"" },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"when\": \"true\"},\n"
          " {\"id\": \"a\", \"type\": \"filter\", \"when\": \"true\"}]}",
          "rules[1].id: rule \"a\" is given twice (line 2, column 9)" },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"when\": \"ammount > 1\"}]}",
          "rules[0].when: unknown field \"ammount\", did you mean \"amount\"? (line 1, column 1)" },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"when\": \"amount\"}]}",
          "rules[0].when: " },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"whn\": \"true\"}]}",
          "rules[0].whn: unknown key in a filter rule, did you mean \"when\"?" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
          "  \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"cont >= 3\"}]}",
          "rules[0].having: unknown field \"cont\", did you mean \"count\"? (line 1, column 1)" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
          "  \"lookback\": \"1 hour\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 3\"}]}",
          "rules[0].lookback: expected a duration like \"1h\" between 1ms and 30 days (or \"$param\"), got \"1 hour\" (line 2, column 15)" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
          "  \"lookback\": \"1h\", \"aggregates\": {\"s\": \"summ(amount)\"}, \"having\": \"s > 3\"}]}",
          "rules[0].aggregates.s: unknown aggregate \"summ\", did you mean \"sum\"?" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
          "  \"lookback\": \"1h\", \"aggregates\": {\"s\": \"sum(merchant_id)\"}, \"having\": \"s > 3\"}]}",
          "rules[0].aggregates.s: sum needs a number, \"merchant_id\" is a string" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": [\"account_id\", \"amout\"],\n"
          "  \"lookback\": \"1h\", \"aggregates\": {\"c\": \"count\"}, \"having\": \"c > 3\"}]}",
          "rules[0].group_by[1]: unknown field \"amout\", did you mean \"amount\"?" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"lookback\": \"1h\",\n"
          "  \"aggregates\": {\"c\": \"count\"}, \"having\": \"c > 3\"}]}",
          "rules[0]: an aggregate rule needs \"group_by\"" },
        { "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
          "  \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count > 3\",\n"
          "  \"reason\": \"{cont} in {lookback}\"}]}",
          "rules[0].reason: unknown placeholder {cont}, did you mean \"count\"? (a placeholder is an "
          "aggregate, a param, a transaction field or {lookback}) (line 3, column 13)" },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"when\": \"amount > $limt\",\n"
          "  \"params\": {\"limit\": 5}}]}",
          "rules[0].when: " },
        { "{\"rules\": [{\"id\": \"a\", \"type\": \"filter\", \"when\": \"true\", \"reason\": \"{amount\"}]}",
          "rules[0].reason: a '{' at offset 0 has no '}'" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        fw_lang_rules *rs = NULL;
        char err[1024] = "";
        fw_err rc = lang_load(cases[i].json, &rs, err, sizeof(err));
        if (rc == FW_OK || !strstr(err, cases[i].want))
            fprintf(stderr, "case %zu: want error containing\n  %s\ngot (rc %d)\n  %s\n", i,
                    cases[i].want, (int)rc, err);
        assert_int_not_equal(rc, FW_OK);
        assert_non_null(strstr(err, cases[i].want));
        assert_null(rs);
    }
}

static void test_too_many_rules(void **state) {
    (void)state;
    size_t size = 80 * (FW_LANG_MAX_RULES + 2) + 64, o = 0;
    char *json = malloc(size);
    o += (size_t)snprintf(json + o, size - o, "{\"rules\": [");
    for (int i = 0; i <= FW_LANG_MAX_RULES; i++)
        o += (size_t)snprintf(json + o, size - o, "%s{\"id\": \"r%d\", \"type\": \"filter\", "
                              "\"when\": \"true\"}", i ? "," : "", i);
    snprintf(json + o, size - o, "]}");
    fw_lang_rules *rs = NULL;
    char err[512];
    fw_err rc = lang_load(json, &rs, err, sizeof(err));
    printf("  %d rules: rc %d, %s\n", FW_LANG_MAX_RULES + 1, (int)rc, err);
    assert_int_equal(rc, FW_ERR_LIMIT);
    assert_non_null(strstr(err, "257 language rules, above the 256"));
    free(json);
}

/* ---- filter rules ---- */

static void test_filter(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"rules\": [{\"id\": \"big_crypto\", \"type\": \"filter\", \"severity\": \"high\",\n"
        "  \"version\": 3, \"params\": {\"limit\": 1000.5},\n"
        "  \"when\": \"amount > $limit and merchant_category in [\\\"crypto\\\"]\",\n"
        "  \"reason\": \"{amount} at {merchant_id} above {limit}\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[3];
    mk(&x[0], "t1", T0, "1000.5", "A", "M1", "crypto", NULL);     /* not above */
    mk(&x[1], "t2", T0 + 1, "1000.5001", "A", "M1", "crypto", NULL);
    mk(&x[2], "t3", T0 + 2, "5000", "A", "M1", "grocery", NULL);
    run(st, x, 3, &s);
    printf("  alerts %zu (want 1): %s / %s\n", s.n, s.n ? s.a[0].entity : "", s.n ? s.a[0].reason : "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].rule, "big_crypto");
    assert_string_equal(s.a[0].entity, "transaction_id=t2");
    assert_string_equal(s.a[0].reason, "1000.5001 at M1 above 1000.5");
    assert_int_equal(s.a[0].nevidence, 1);
    assert_int_equal(fw_lang_rules_find(rs, "big_crypto")->common.version, 3);
    assert_int_equal(fw_lang_rules_find(rs, "big_crypto")->common.severity, FW_SEV_HIGH);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* "entity" names alerts as a built-in does: the first present alternative
 * for a filter, the group_by values joined by "->" for an aggregate; a rule
 * may take a built-in's id (it then runs instead of it: engine_lang.c). */
static void test_entity(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [\n"
        " {\"id\": \"high_amount\", \"type\": \"filter\", \"when\": \"amount > 5000\",\n"
        "  \"entity\": [{\"type\": \"account\", \"id\": \"account_id\"},\n"
        "             {\"type\": \"card\", \"id\": \"card_id\"}]},\n"
        " {\"id\": \"pairs\", \"type\": \"aggregate\", \"group_by\": [\"account_id\", \"counterparty_id\"],\n"
        "  \"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 2\",\n"
        "  \"entity\": \"account_pair\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[4];
    mk(&x[0], "t1", T0, "6000", "A", "M1", "crypto", NULL);
    mk(&x[1], "t2", T0 + 1, "6000", NULL, "M1", "crypto", NULL); /* no account, no card */
    mk(&x[2], "t3", T0 + 2, "10", "A", NULL, NULL, "C9");
    mk(&x[3], "t4", T0 + 3, "10", "A", NULL, NULL, "C9");
    run(st, x, 4, &s);
    static const char *const want[][3] = { { "high_amount", "account", "A" },
                                           { "high_amount", "transaction", "t2" },
                                           { "pairs", "account_pair", "A->C9" } };
    for (size_t i = 0; i < s.n; i++)
        printf("  alert %zu: %s %s %s\n", i, s.a[i].rule, s.a[i].entity_type, s.a[i].entity);
    assert_int_equal(s.n, N(want));
    for (size_t i = 0; i < N(want); i++) {
        assert_string_equal(s.a[i].rule, want[i][0]);
        assert_string_equal(s.a[i].entity_type, want[i][1]);
        assert_string_equal(s.a[i].entity, want[i][2]);
    }
    fw_buf b; /* written back as given */
    fw_buf_init(&b, 0);
    assert_true(fw_lang_rules_write_json(rs, &b, ""));
    fw_buf_putc(&b, '\0');
    printf("%s\n", b.data);
    assert_non_null(strstr(b.data, "\"entity\": [{ \"type\": \"account\", \"id\": \"account_id\" }, "
                                   "{ \"type\": \"card\", \"id\": \"card_id\" }]"));
    assert_non_null(strstr(b.data, "\"entity\": \"account_pair\""));
    fw_buf_fini(&b);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* Fields outside the schema get a slot each over the whole rule set; the
 * record hands them in by slot. */
static void test_extra_fields(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [\n"
        " {\"id\": \"dev\", \"type\": \"filter\", \"when\": \"device_id == \\\"d1\\\" and mcc > 5000\",\n"
        "  \"reason\": \"device {device_id}, mcc {mcc}\"},\n"
        " {\"id\": \"devs\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": \"1h\",\n"
        "  \"aggregates\": {\"d\": \"count_distinct(device_id)\", \"m\": \"max(mcc)\"},\n"
        "  \"having\": \"d >= 2\"}]}");
    printf("  extra slots: %zu (%s, %s)\n", rs->nextra, rs->extra_names[0], rs->extra_names[1]);
    assert_int_equal(rs->nextra, 2);
    assert_string_equal(rs->extra_names[0], "device_id");
    assert_string_equal(rs->extra_names[1], "mcc");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[2];
    mk(&x[0], "t1", T0, "10", "A", NULL, NULL, NULL);
    mk(&x[1], "t2", T0 + 1, "10", "A", NULL, NULL, NULL);
    fw_str ex[2][2] = { { FW_STR_LIT("d1"), FW_STR_LIT("6011") }, { FW_STR_LIT("d2"), FW_STR_NULL } };
    for (int i = 0; i < 2; i++) {
        fw_lang_input in = { .txn = &x[i].t, .extra = ex[i], .nextra = 2 };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, &s);
    }
    for (size_t i = 0; i < s.n; i++)
        printf("  %s %s: %s [%s]\n", s.a[i].rule, s.a[i].entity, s.a[i].reason, s.a[i].values);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.a[0].reason, "device d1, mcc 6011");
    assert_string_equal(s.a[1].rule, "devs");
    assert_string_equal(s.a[1].values, "d=2 m=6011");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* ---- aggregates ---- */

static const char agg_rule[] =
    "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"agg\", \"type\": \"aggregate\",\n"
    "  \"group_by\": \"account_id\", \"lookback\": \"1h\",\n"
    "  \"aggregates\": {\"n\": \"count\", \"s\": \"sum(amount)\", \"a\": \"avg(amount)\",\n"
    "    \"lo\": \"min(amount)\", \"hi\": \"max(amount)\", \"m\": \"count_distinct(merchant_id)\",\n"
    "    \"sd\": \"stddev(amount)\", \"big\": {\"of\": \"sum(amount)\", \"where\": \"amount >= 100\"},\n"
    "    \"nbig\": {\"of\": \"count\", \"where\": \"amount >= 100\"}},\n"
    "  \"having\": \"true\"}]}";

static void test_each_aggregate(void **state) {
    (void)state;
    static const struct {
        const char *amounts[5];
        const char *merchants[5];
        const char *want;
    } cases[] = {
        { { "10" }, { "M1" }, "n=1 s=10 a=10 lo=10 hi=10 m=1 sd=0 big=0 nbig=0" },
        { { "0.1", "0.2" }, { "M1", "M1" }, "n=2 s=0.3 a=0.15 lo=0.1 hi=0.2 m=1 sd=0.05 big=0 nbig=0" },
        { { "2", "4", "4", "4", "5" }, { "M1", "M2", "M3", "M2", "M1" },
          "n=5 s=19 a=3.8 lo=2 hi=5 m=3 sd=0.9798 big=0 nbig=0" },
        { { "100", "50", "250.25" }, { "M1", NULL, "M2" },
          "n=3 s=400.25 a=133.4167 lo=50 hi=250.25 m=2 sd=85.0981 big=350.25 nbig=2" },
        { { "1", "2" }, { "M1", "M2" }, "n=2 s=3 a=1.5 lo=1 hi=2 m=2 sd=0.5 big=0 nbig=0" },
    };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(agg_rule);
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[5];
        size_t n = 0;
        for (; n < 5 && cases[c].amounts[n]; n++) {
            char id[24];
            snprintf(id, sizeof(id), "t%zu", n);
            mk(&x[n], id, T0 + (int64_t)n * MIN_MS, cases[c].amounts[n], "A", cases[c].merchants[n],
               NULL, NULL);
        }
        run(st, x, n, &s);
        assert_int_equal(s.n, n);
        printf("  case %zu: got  %s\n          want %s\n", c, s.a[n - 1].values, cases[c].want);
        assert_string_equal(s.a[n - 1].values, cases[c].want);
        assert_int_equal(s.a[n - 1].nevidence, n);
        assert_string_equal(s.a[n - 1].evidence0, "t0");
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

/* Early firing (docs/rules.md#early-firing): which aggregates are judged on
 * arrival. Only aligned windows whose having, once true, stays true as the
 * window gains events; everything else waits for event-time order. */
static void test_fires_early(void **state) {
    (void)state;
    static const struct {
        const char *shape; /* the rule's keys after group_by */
        const char *having;
        bool early;
    } cases[] = {
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n >= 3", true },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "3 <= n", true },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n > 3 and s > 100", true },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "hi > 100 or lo < 1", true },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "m >= 5", true },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n - 2 >= 1", true },
        { "\"window\": \"1h\"", "n >= 3", true }, /* tumbling */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n < 3", false },   /* an upper bound */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n == 3", false },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "not (n < 3)", false },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "a > 100", false }, /* an average falls */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "sd > 1", false },
        { "\"window\": \"30m\", \"slide\": \"5m\"", "v > 1", false },   /* sum of any field */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "hi > lo", true }, /* the spread only grows */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "s > hi", false }, /* both rise */
        { "\"window\": \"30m\", \"slide\": \"5m\"", "n >= amount", false }, /* reads the record */
        { "\"lookback\": \"30m\"", "n >= 3", false }, /* its range ends at each record */
        { "\"window\": \"30m\", \"slide\": \"5m\", \"consume\": true", "n >= 3", false },
    };
    for (size_t c = 0; c < N(cases); c++) {
        char json[1024];
        snprintf(json, sizeof(json),
                 "{\"rules\": [{\"id\": \"r\", \"type\": \"aggregate\", \"group_by\": "
                 "\"account_id\", %s, \"aggregates\": {\"n\": \"count\", \"s\": "
                 "\"sum(amount)\", \"a\": \"avg(amount)\", \"lo\": \"min(amount)\", \"hi\": "
                 "\"max(amount)\", \"m\": \"count_distinct(merchant_id)\", \"sd\": "
                 "\"stddev(amount)\", \"v\": \"sum(lat)\"}, \"having\": \"%s\"}]}",
                 cases[c].shape, cases[c].having);
        fw_lang_rules *rs = lang_load_ok(json);
        bool early = rs->rules[0].early;
        if (early != cases[c].early || fw_lang_rule_on_arrival(&rs->rules[0]) != early)
            fail_msg("{%s} having %s: early %d, on arrival %d; want %d", cases[c].shape,
                     cases[c].having, early, fw_lang_rule_on_arrival(&rs->rules[0]),
                     cases[c].early);
        fw_lang_rules_destroy(rs);
    }
    /* time.early_firing false: every stateful rule waits for event-time order */
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"early_firing\": false}, \"rules\": [{\"id\": \"r\", \"type\": "
        "\"aggregate\", \"group_by\": \"account_id\", \"window\": \"30m\", \"slide\": \"5m\", "
        "\"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 3\"}]}");
    assert_false(rs->rules[0].early);
    assert_false(fw_lang_rule_on_arrival(&rs->rules[0]));
    fw_lang_rules_destroy(rs);
}

/* "refunds above 30 % of sales", one rule thanks to per-aggregate where. */
static void test_ratio(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"rules\": [{\"id\": \"refunds\", \"type\": \"aggregate\", \"group_by\": \"merchant_id\",\n"
        "  \"lookback\": \"24h\", \"aggregates\": {\n"
        "    \"refunds\": {\"of\": \"sum(amount)\", \"where\": \"merchant_category == \\\"refund\\\"\"},\n"
        "    \"sales\": {\"of\": \"sum(amount)\", \"where\": \"merchant_category == \\\"sale\\\"\"}},\n"
        "  \"having\": \"refunds > 0.3 * sales\",\n"
        "  \"reason\": \"refunds {refunds} against sales {sales} within {lookback}\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[4];
    mk(&x[0], "s1", T0, "1000", NULL, "M", "sale", NULL);
    mk(&x[1], "r1", T0 + HOUR_MS, "300", NULL, "M", "refund", NULL);      /* exactly 30 %: no */
    mk(&x[2], "r2", T0 + 2 * HOUR_MS, "0.0001", NULL, "M", "refund", NULL); /* just above */
    mk(&x[3], "r3", T0 + 3 * HOUR_MS, "5", NULL, "N", "refund", NULL);    /* another merchant, no sales */
    run(st, x, 4, &s);
    for (size_t i = 0; i < s.n; i++)
        printf("  %s %s: %s\n", s.a[i].rule, s.a[i].entity, s.a[i].reason);
    /* N: refunds 5 against no sales: the sum of nothing is 0, so 5 > 0. */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.a[0].entity, "merchant_id=M");
    assert_string_equal(s.a[0].reason, "refunds 300.0001 against sales 1000 within 24h");
    assert_string_equal(s.a[1].reason, "refunds 5 against sales 0 within 24h");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* The lookback holds [t - lookback, t]: exactly at the start counts. */
static void test_lookback_edges(void **state) {
    (void)state;
    static const struct {
        int64_t gap;
        size_t want_count;
    } cases[] = { { HOUR_MS, 2 }, { HOUR_MS + 1, 1 }, { HOUR_MS - 1, 2 }, { 0, 2 } };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(
            "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"v\", \"type\": \"aggregate\",\n"
            " \"group_by\": \"account_id\", \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"},\n"
            " \"having\": \"count >= 1\"}]}");
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[2];
        mk(&x[0], "t1", T0, "1", "A", NULL, NULL, NULL);
        mk(&x[1], "t2", T0 + cases[c].gap, "1", "A", NULL, NULL, NULL);
        run(st, x, 2, &s);
        char want[32];
        snprintf(want, sizeof(want), "count=%zu", cases[c].want_count);
        printf("  gap %lld ms: %s (want %s), window [%lld, %lld]\n", (long long)cases[c].gap,
               s.a[1].values, want, (long long)s.a[1].wstart, (long long)s.a[1].wend);
        assert_string_equal(s.a[1].values, want);
        assert_int_equal(s.a[1].wstart, T0 + cases[c].gap - HOUR_MS);
        assert_int_equal(s.a[1].wend, T0 + cases[c].gap);
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

static void test_group_tuple_and_missing(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"pair\", \"type\": \"aggregate\",\n"
        " \"group_by\": [\"account_id\", \"counterparty_id\"], \"lookback\": \"24h\",\n"
        " \"where\": \"amount < 10000\", \"aggregates\": {\"count\": \"count\", \"sum\": \"sum(amount)\"},\n"
        " \"having\": \"sum > 10000\",\n"
        " \"reason\": \"{count} transfers totalling {sum} to {counterparty_id} within {lookback}\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[6];
    mk(&x[0], "t1", T0, "6000", "A", NULL, NULL, "C1");
    mk(&x[1], "t2", T0 + 1, "6000", "A", NULL, NULL, "C2");  /* another pair */
    mk(&x[2], "t3", T0 + 2, "6000", "A", NULL, NULL, NULL);  /* no counterparty: not counted */
    mk(&x[3], "t4", T0 + 3, "6000", NULL, NULL, NULL, "C1"); /* no account: not counted */
    mk(&x[4], "t5", T0 + 4, "10000", "A", NULL, NULL, "C1"); /* fails where */
    mk(&x[5], "t6", T0 + 5, "4000.01", "A", NULL, NULL, "C1");
    run(st, x, 6, &s);
    printf("  alerts %zu (want 1): %s: %s\n", s.n, s.n ? s.a[0].entity : "", s.n ? s.a[0].reason : "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].entity, "account_id=A,counterparty_id=C1");
    assert_string_equal(s.a[0].reason, "2 transfers totalling 10000.01 to C1 within 24h");
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    assert_int_equal(stats.keys, 2);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* Same rule and entity within time.dedupe_window: one alert, as built-ins. */
static void test_dedupe(void **state) {
    (void)state;
    static const struct {
        int64_t gap;
        size_t want;
    } cases[] = { { 5 * MIN_MS - 1, 1 }, { 5 * MIN_MS, 2 } };
    for (size_t c = 0; c < N(cases); c++) {
        fw_lang_rules *rs = lang_load_ok(
            "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
            " \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 1\"},\n"
            " {\"id\": \"f\", \"type\": \"filter\", \"group_by\": \"account_id\", \"when\": \"true\"}]}");
        fw_lang_state *st = fw_lang_state_new(rs);
        static sink s;
        s.n = 0;
        tx x[3];
        mk(&x[0], "t1", T0, "1", "A", NULL, NULL, NULL);
        mk(&x[1], "t2", T0 + cases[c].gap, "1", "A", NULL, NULL, NULL);
        mk(&x[2], "t3", T0 + cases[c].gap, "1", "B", NULL, NULL, NULL); /* another entity */
        run(st, x, 3, &s);
        fw_lang_stats stats;
        fw_lang_state_stats(st, &stats);
        printf("  gap %lld: %zu alerts (want %zu per rule x2 + B's 2), %llu deduplicated\n",
               (long long)cases[c].gap, s.n, cases[c].want, (unsigned long long)stats.deduplicated);
        assert_int_equal(s.n, 2 * cases[c].want + 2);
        assert_int_equal(stats.deduplicated, 2 * (2 - cases[c].want));
        fw_lang_state_destroy(st);
        fw_lang_rules_destroy(rs);
    }
}

static void test_window_bound(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"limits\": {\"max_window_events\": 5},\n"
        " \"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\", \"s\": \"sum(amount)\"},\n"
        " \"having\": \"count >= 1\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[7];
    for (int i = 0; i < 7; i++) {
        char id[24], amt[24];
        snprintf(id, sizeof(id), "t%d", i);
        snprintf(amt, sizeof(amt), "%d", i + 1);
        mk(&x[i], id, T0 + i, amt, "A", NULL, NULL, NULL);
    }
    run(st, x, 7, &s);
    printf("  last: %s, overflow %llu (want count=5 s=25, 2)\n", s.a[6].values,
           (unsigned long long)s.a[6].overflow);
    assert_string_equal(s.a[6].values, "count=5 s=25");
    assert_int_equal(s.a[6].overflow, 2);
    assert_string_equal(s.a[6].evidence0, "t2");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

static void test_expiry_leaves_nothing(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(
        "{\"rules\": [{\"id\": \"v\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"lookback\": \"1h\", \"aggregates\": {\"count\": \"count\"}, \"having\": \"count >= 2\"},\n"
        " {\"id\": \"f\", \"type\": \"filter\", \"group_by\": \"account_id\", \"when\": \"true\"}]}");
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[40];
    for (int i = 0; i < 40; i++) {
        char id[24], acct[24];
        snprintf(id, sizeof(id), "t%d", i);
        snprintf(acct, sizeof(acct), "A%d", i % 7);
        mk(&x[i], id, T0 + i * MIN_MS, "1", acct, NULL, NULL, NULL);
    }
    run(st, x, 40, &s);
    fw_lang_stats before, mid, after;
    fw_lang_state_stats(st, &before);
    int64_t last = T0 + 39 * MIN_MS;
    /* One ms before the newest event leaves the lookback: still held. */
    fw_lang_expire(st, last + HOUR_MS);
    fw_lang_state_stats(st, &mid);
    size_t freed = fw_lang_expire(st, last + HOUR_MS + 5 * MIN_MS + 1);
    fw_lang_state_stats(st, &after);
    printf("  keys %llu events %llu -> %llu/%llu -> %llu/%llu (freed %zu)\n",
           (unsigned long long)before.keys, (unsigned long long)before.events,
           (unsigned long long)mid.keys, (unsigned long long)mid.events,
           (unsigned long long)after.keys, (unsigned long long)after.events, freed);
    assert_int_equal(before.keys, 14);
    assert_true(mid.events >= 1);
    assert_int_equal(after.keys, 0);
    assert_int_equal(after.events, 0);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

/* ---- changelog round trip and the differential test ---- */

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) {
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static unsigned nmerchants = 5; /* distinct merchant ids random_txns draws from */

static tx *random_txns(size_t n) {
    tx *x = calloc(n, sizeof(*x));
    int64_t ts = T0;
    for (size_t i = 0; i < n; i++) {
        char id[24], amt[48], acct[24], merch[24];
        snprintf(id, sizeof(id), "t%zu", i);
        snprintf(amt, sizeof(amt), "%llu.%02llu", (unsigned long long)(rnd() % 2000),
                 (unsigned long long)(rnd() % 100));
        snprintf(acct, sizeof(acct), "A%llu", (unsigned long long)(rnd() % 4));
        snprintf(merch, sizeof(merch), "M%u", (unsigned)(rnd() % nmerchants % 100)); /* < 64 */
        ts += (int64_t)(rnd() % 4 == 0 ? 0 : rnd() % (10 * MIN_MS));
        mk(&x[i], id, ts, amt, rnd() % 20 ? acct : NULL, rnd() % 10 ? merch : NULL, NULL, NULL);
    }
    return x;
}

static void test_round_trip(void **state) {
    (void)state;
    const size_t n = 600, half = 300;
    tx *x = random_txns(n);
    fw_lang_rules *rs = lang_load_ok(agg_rule);
    static sink a, b;
    a.n = b.n = 0;
    fw_lang_state *one = fw_lang_state_new(rs);
    run(one, x, n, &a);
    /* Restart at half: a new state restored key by key from the bytes. */
    fw_lang_state *first = fw_lang_state_new(rs), *second = fw_lang_state_new(rs);
    run(first, x, half, &b);
    lang_snap s = { .from = first, .to = second };
    fw_buf_init(&s.buf, 0);
    fw_lang_state_foreach(first, lang_copy_key, &s);
    fw_lang_stats s1, s2;
    fw_lang_state_stats(first, &s1);
    fw_lang_state_stats(second, &s2);
    assert_int_equal(s1.keys, s2.keys);
    assert_int_equal(s1.events, s2.events);
    run(second, x + half, n - half, &b);
    printf("  alerts without restart %zu, with %zu; keys restored %llu\n", a.n, b.n,
           (unsigned long long)s2.keys);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.a[i].entity, b.a[i].entity);
        assert_string_equal(a.a[i].values, b.a[i].values);
        assert_int_equal(a.a[i].ts, b.a[i].ts);
    }
    /* Bytes of another shape are refused. */
    fw_lang_rules *other = lang_load_ok(
        "{\"rules\": [{\"id\": \"agg\", \"type\": \"aggregate\", \"group_by\": \"account_id\",\n"
        " \"lookback\": \"1h\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"true\"}]}");
    fw_lang_state *ost = fw_lang_state_new(other);
    fw_buf_reset(&s.buf);
    assert_true(fw_lang_state_write_key(first, 0, fw_str_c("account_id=A1"), &s.buf));
    char err[256];
    assert_int_equal(fw_lang_state_read_key(ost, 0, fw_str_c("account_id=A1"), s.buf.data,
                                            s.buf.len, err, sizeof(err)), FW_ERR_INVALID);
    printf("  other shape: %s\n", err);
    assert_non_null(strstr(err, "shape changed"));
    assert_int_equal(fw_lang_state_read_key(ost, 0, fw_str_c("account_id=A1"), s.buf.data,
                                            s.buf.len / 2, err, sizeof(err)), FW_ERR_INVALID);
    fw_lang_state_destroy(ost);
    fw_lang_rules_destroy(other);
    fw_buf_fini(&s.buf);
    fw_lang_state_destroy(one);
    fw_lang_state_destroy(first);
    fw_lang_state_destroy(second);
    fw_lang_rules_destroy(rs);
    free(x);
}

static fw_dec dec(const fw_str s) {
    fw_dec d = 0;
    assert_int_equal(fw_dec_parse(s.ptr, s.len, &d), FW_OK);
    return d;
}

static void fmt(char *out, size_t size, size_t *o, const char *name, bool have, fw_dec v) {
    char d[FW_DEC_STR_MAX];
    if (have)
        fw_dec_format(v, d, sizeof(d));
    *o += (size_t)snprintf(out + *o, size - *o, "%s%s=%s", *o ? " " : "", name, have ? d : "missing");
}

/* Aggregates recomputed from scratch for every transaction: the window is
 * the key's last @p max counted transactions within the lookback. */
static void differential(uint32_t max, unsigned merchants, uint64_t seed) {
    const size_t n = 3000;
    rnd_state = seed;
    nmerchants = merchants;
    tx *x = random_txns(n);
    char json[1024];
    snprintf(json, sizeof(json),
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"limits\": {\"max_window_events\": %u},\n"
        " \"rules\": [{\"id\": \"d\", \"type\": \"aggregate\",\n"
        "  \"group_by\": \"account_id\", \"lookback\": \"30m\", \"where\": \"amount > 100\",\n"
        "  \"aggregates\": {\"n\": \"count\", \"s\": \"sum(amount)\", \"a\": \"avg(amount)\",\n"
        "    \"lo\": \"min(amount)\", \"hi\": \"max(amount)\", \"m\": \"count_distinct(merchant_id)\",\n"
        "    \"sd\": \"stddev(amount)\", \"big\": {\"of\": \"max(amount)\", \"where\": \"amount > 1500\"}},\n"
        "  \"having\": \"n >= 3 and s > 2500\"}]}", max);
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    run(st, x, n, &s);
    size_t k = 0, expected = 0;
    for (size_t i = 0; i < n; i++) {
        const fw_txn *t = &x[i].t;
        if (!t->account_id.ptr || dec(t->amount_raw) <= 1000000)
            continue;
        int64_t cnt = 0, m = 0;
        fw_dec sum = 0, lo = 0, hi = 0, big = 0;
        bool have_big = false;
        __extension__ __int128 sq = 0;
        char merchants_seen[64][8];
        /* The window's transactions, then only the newest max of them. */
        size_t win[4096], nwin = 0;
        for (size_t j = 0; j <= i; j++) {
            const fw_txn *u = &x[j].t;
            if (u->account_id.ptr && fw_str_eq(u->account_id, t->account_id) &&
                u->ts_ms >= t->ts_ms - 30 * MIN_MS && dec(u->amount_raw) > 1000000)
                win[nwin++] = j;
        }
        size_t from = nwin > max ? nwin - max : 0;
        for (size_t w = from; w < nwin; w++) {
            const fw_txn *u = &x[win[w]].t;
            fw_dec v = dec(u->amount_raw);
            lo = cnt == 0 || v < lo ? v : lo;
            hi = cnt == 0 || v > hi ? v : hi;
            cnt++;
            sum += v;
            sq += (__int128)v * v;
            if (v > 15000000) {
                big = !have_big || v > big ? v : big;
                have_big = true;
            }
            if (u->merchant_id.ptr) {
                bool seen = false;
                for (int64_t q = 0; q < m; q++)
                    seen = seen || fw_str_eq_c(u->merchant_id, merchants_seen[q]);
                if (!seen)
                    snprintf(merchants_seen[m++], 8, "%.*s", (int)u->merchant_id.len, u->merchant_id.ptr);
            }
        }
        if (!(cnt >= 3 && sum > 25000000))
            continue;
        expected++;
        fw_dec avg, cdec;
        assert_true(fw_dec_of_int(cnt, &cdec));
        assert_true(fw_dec_div(sum, cdec, &avg));
        __extension__ __int128 var = (__int128)cnt * sq - (__int128)sum * sum;
        fw_dec sd = (fw_dec)llround(sqrt((double)var) / (double)cnt);
        char want[512];
        size_t o = 0;
        fmt(want, sizeof(want), &o, "n", true, cnt * FW_DEC_SCALE);
        fmt(want, sizeof(want), &o, "s", true, sum);
        fmt(want, sizeof(want), &o, "a", true, avg);
        fmt(want, sizeof(want), &o, "lo", true, lo);
        fmt(want, sizeof(want), &o, "hi", true, hi);
        fmt(want, sizeof(want), &o, "m", true, m * FW_DEC_SCALE);
        fmt(want, sizeof(want), &o, "sd", true, sd);
        fmt(want, sizeof(want), &o, "big", have_big, big);
        assert_true(k < s.n);
        if (strcmp(want, s.a[k].values) || s.a[k].ts != t->ts_ms)
            fprintf(stderr, "txn %zu: want %s\n          got  %s\n", i, want, s.a[k].values);
        assert_string_equal(want, s.a[k].values);
        assert_int_equal(s.a[k].ts, t->ts_ms);
        k++;
    }
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    printf("  max %u, %u merchants: %zu transactions, %zu alerts, %zu expected naively, "
           "%llu overflowed\n", max, merchants, n, s.n, expected,
           (unsigned long long)stats.overflow);
    assert_true(expected > 50);
    assert_int_equal(k, s.n);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(x);
}

static void test_differential(void **state) {
    (void)state;
    differential(10000, 5, 0x9e3779b97f4a7c15ULL);  /* unbounded in practice */
    differential(5, 50, 0x1234567887654321ULL);     /* the bound drops events; many values */
    differential(7, 3, 0x0badc0ffee0ddf00ULL);      /* few values: the multiset's collisions */
    nmerchants = 5;
}

/* Rules with one group_by, lookback and where share a part of the state; the
 * alerts are those of each rule run alone. */
static int cmp_got(const void *pa, const void *pb) {
    const got *a = pa, *b = pb;
    int c;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if ((c = strcmp(a->rule, b->rule)) || (c = strcmp(a->entity, b->entity)))
        return c;
    return strcmp(a->values, b->values);
}

static void test_shared_state(void **state) {
    (void)state;
    static const char *const rules[] = {
        "{\"id\": \"r1\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": \"30m\",\n"
        " \"where\": \"amount > 100\", \"aggregates\": {\"n\": \"count\"}, \"having\": \"n >= 3\"}",
        "{\"id\": \"r2\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": \"30m\",\n"
        " \"where\": \"amount > 100\", \"aggregates\": {\"s\": \"sum(amount)\",\n"
        " \"m\": \"count_distinct(merchant_id)\", \"hi\": \"max(amount)\"}, \"having\": \"s > 3000 and m >= 2\"}",
        "{\"id\": \"r3\", \"type\": \"aggregate\", \"group_by\": \"account_id\", \"lookback\": \"30m\",\n"
        " \"aggregates\": {\"n\": \"count\", \"lo\": \"min(amount)\"}, \"having\": \"n >= 4\"}",
        "{\"id\": \"r4\", \"type\": \"aggregate\", \"enabled\": false, \"group_by\": \"account_id\",\n"
        " \"lookback\": \"30m\", \"where\": \"amount > 100\", \"aggregates\": {\"n\": \"count\"},\n"
        " \"having\": \"true\"}",
    };
    rnd_state = 0x5eed5eed5eed5eedULL;
    const size_t n = 1500;
    tx *x = random_txns(n);
    static sink all, one;
    all.n = one.n = 0;
    char json[4096];
    snprintf(json, sizeof(json), "{\"time\": {\"dedupe_window\": \"10m\"}, \"rules\": [%s,\n%s,\n%s,\n%s]}",
             rules[0], rules[1], rules[2], rules[3]);
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *st = fw_lang_state_new(rs);
    run(st, x, n, &all);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    for (size_t i = 0; i < N(rules); i++) {
        snprintf(json, sizeof(json), "{\"time\": {\"dedupe_window\": \"10m\"}, \"rules\": [%s]}",
                 rules[i]);
        fw_lang_rules *r1 = lang_load_ok(json);
        fw_lang_state *s1 = fw_lang_state_new(r1);
        run(s1, x, n, &one);
        fw_lang_state_destroy(s1);
        fw_lang_rules_destroy(r1);
    }
    printf("  shared: %zu alerts in %llu parts holding %llu keys; rules alone: %zu alerts\n",
           all.n, (unsigned long long)stats.parts, (unsigned long long)stats.keys, one.n);
    assert_int_equal(stats.parts, 2); /* r1 + r2, r3; r4 is disabled */
    assert_true(all.n > 20);
    assert_int_equal(all.n, one.n);
    qsort(all.a, all.n, sizeof(all.a[0]), cmp_got);
    qsort(one.a, one.n, sizeof(one.a[0]), cmp_got);
    for (size_t i = 0; i < all.n; i++) {
        assert_int_equal(cmp_got(&all.a[i], &one.a[i]), 0);
        assert_string_equal(all.a[i].values, one.a[i].values);
    }
    /* A restart halfway through, the shared parts restored from their bytes. */
    static sink again;
    again.n = 0;
    fw_lang_state *first = fw_lang_state_new(rs), *second = fw_lang_state_new(rs);
    run(first, x, n / 2, &again);
    lang_hand_over(first, second);
    run(second, x + n / 2, n - n / 2, &again);
    qsort(again.a, again.n, sizeof(again.a[0]), cmp_got);
    printf("  restored halfway: %zu alerts\n", again.n);
    assert_int_equal(again.n, all.n);
    for (size_t i = 0; i < all.n; i++)
        assert_int_equal(cmp_got(&all.a[i], &again.a[i]), 0);
    fw_lang_state_destroy(first);
    fw_lang_state_destroy(second);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(x);
}

/* ---- show writes back what loads to the same rules ---- */

static void test_write_back(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(agg_rule);
    lang_assert_writes_back(rs, "  ");
    fw_lang_rules_destroy(rs);
}

/* ---- the cookbook of docs/rule-language.md ---- */

static void test_cookbook(void **state) {
    (void)state;
    char *doc = lang_read_cookbook();
    /* More than 3 crypto merchants in an hour. */
    char *json = lang_cookbook_block(doc, "### More than 3 crypto merchants in an hour");
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *st = fw_lang_state_new(rs);
    static sink s;
    s.n = 0;
    tx x[6];
    mk(&x[0], "c1", T0, "50", "A", "M1", "crypto", NULL);
    mk(&x[1], "c2", T0 + 10 * MIN_MS, "60", "A", "M2", "crypto", NULL);
    mk(&x[2], "c3", T0 + 20 * MIN_MS, "70", "A", "M3", "crypto", NULL);
    mk(&x[3], "c4", T0 + 30 * MIN_MS, "80", "A", "M3", "crypto", NULL);  /* seen merchant */
    mk(&x[4], "g1", T0 + 35 * MIN_MS, "90", "A", "M9", "grocery", NULL); /* not crypto */
    mk(&x[5], "c5", T0 + 40 * MIN_MS, "100", "A", "M4", "crypto", NULL);
    run(st, x, 6, &s);
    printf("  crypto: %zu alert(s): %s | %s\n", s.n, s.n ? s.a[0].entity : "", s.n ? s.a[0].reason : "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.a[0].entity, "account_id=A");
    assert_string_equal(s.a[0].reason, "4 crypto merchants within 1h, 360 in total");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(json);

    /* Refunds above 30 % of sales per merchant per day. */
    json = lang_cookbook_block(doc, "### Refunds above 30 % of sales per merchant per day");
    rs = lang_load_ok(json);
    st = fw_lang_state_new(rs);
    s.n = 0;
    mk(&x[0], "s1", T0, "1000", "A", "M1", NULL, NULL);
    mk(&x[1], "s2", T0 + HOUR_MS, "1000", "B", "M1", NULL, NULL);
    mk(&x[2], "r1", T0 + 2 * HOUR_MS, "600", "A", "M1", NULL, NULL);
    mk(&x[3], "r2", T0 + 3 * HOUR_MS, "0.01", "C", "M1", NULL, NULL);
    mk(&x[4], "r3", T0 + 26 * HOUR_MS, "1", "C", "M1", NULL, NULL); /* sales left the day, r1 at its edge */
    for (int i = 2; i < 5; i++) {
        x[i].t.type = FW_TXN_TYPE_OTHER;
        x[i].t.type_raw = fw_str_c("REFUND");
    }
    run(st, x, 5, &s);
    for (size_t i = 0; i < s.n; i++)
        printf("  refunds: %s | %s\n", s.a[i].entity, s.a[i].reason);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.a[0].entity, "merchant_id=M1");
    assert_string_equal(s.a[0].reason, "refunds 600.01 are above 30 % of sales 2000 within 24h");
    assert_string_equal(s.a[1].reason, "refunds 601.01 are above 30 % of sales 0 within 24h");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(json);
    free(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_too_many_rules),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_extra_fields),
        cmocka_unit_test(test_entity),
        cmocka_unit_test(test_each_aggregate),
        cmocka_unit_test(test_fires_early),
        cmocka_unit_test(test_ratio),
        cmocka_unit_test(test_lookback_edges),
        cmocka_unit_test(test_group_tuple_and_missing),
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_window_bound),
        cmocka_unit_test(test_expiry_leaves_nothing),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_differential),
        cmocka_unit_test(test_shared_state),
        cmocka_unit_test(test_write_back),
        cmocka_unit_test(test_cookbook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
