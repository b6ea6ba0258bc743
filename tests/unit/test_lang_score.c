/* test_lang_score.c — table-driven tests of `score` language rules
 * (lang_rules.c loads them, lang_score.c scores them): `each` and `if` bands,
 * windows exactly at / just inside their bounds, slide boundaries, episodes,
 * out-of-order arrival within the allowed lateness, avg_before and memory,
 * severity_by_score, points and thresholds (constant or read from the
 * record), the changelog round trip at every cut, expiry leaving
 * no state, load errors and write-back. Time is fed, never slept. The
 * comparison with the built-in risk_score is tests/cli/lang_score_equiv.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lang_rules.h"
#include "lang_state_int.h" /* test_band_counts recounts a key's ring */
#include "rules_file.h"

#include "lang_test_util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1710513000000LL /* a multiple of 10 minutes: windows align on it */
#define MIN_MS 60000LL

typedef struct tx {
    char id[24], amt[32], acct[16];
    fw_txn t;
} tx;

/* One record: id, account, amount, ms after T0. */
typedef struct rec {
    const char *id, *acct, *amt;
    int64_t dt;
} rec;

static void mk(tx *x, const rec *r) {
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "%s", r->id);
    snprintf(x->amt, sizeof(x->amt), "%s", r->amt);
    snprintf(x->acct, sizeof(x->acct), "%s", r->acct);
    x->t.transaction_id = fw_str_c(x->id);
    x->t.amount_raw = fw_str_c(x->amt);
    x->t.amount = strtod(x->amt, NULL);
    x->t.account_id = fw_str_c(x->acct);
    x->t.ts_ms = T0 + r->dt;
    x->t.type = FW_TXN_PURCHASE;
}

typedef struct sink {
    char got[1024]; /* each alert as "entity:ev1,ev2,...;" */
    char reason[512];
    size_t n;
    int64_t wstart;
    fw_severity sev;
} sink;

static void on_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    lang_alert_append(s->got, sizeof(s->got), a);
    snprintf(s->reason, sizeof(s->reason), "%.*s", (int)a->reason.len, a->reason.ptr);
    s->wstart = a->window_start;
    s->sev = a->rc->severity;
    s->n++;
}

static void feed(fw_lang_state *st, const rec *r, size_t n, sink *s) {
    for (size_t i = 0; i < n && r[i].id; i++) {
        tx x;
        mk(&x, &r[i]);
        fw_lang_input in = { .txn = &x.t };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, s);
    }
}

LANG_FEED_TEXT(rec, sink)

/* A score rule on account_id, dedupe off, 5 minutes of allowed lateness:
 * window 10m sliding by 5m; +10 for each amount above $big, +10 once when the
 * window holds at least 3 transactions; alert at 20. @p extra: more keys. */
static char *doc(const char *extra) {
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"time\": {\"dedupe_window\": \"0s\", \"allowed_lateness\": \"5m\"}, "
             "\"rules\": [{\"id\": \"sc\", \"type\": \"score\", \"group_by\": \"account_id\", "
             "\"window\": \"10m\", \"slide\": \"5m\", \"params\": {\"big\": 1000, \"many\": 3}, "
             "\"aggregates\": {\"n\": \"count\"}, \"bands\": ["
             "{\"name\": \"large\", \"each\": \"amount > $big\", \"points\": 10}, "
             "{\"name\": \"busy\", \"if\": \"n >= $many\", \"points\": \"$many * 3 + 1\"}], "
             "\"alert_at\": 20, \"episodes\": true%s}]}",
             extra);
    return buf;
}

static void test_scoring(void **state) {
    (void)state;
    static const struct {
        const char *name;
        rec r[8];
        const char *want;
        int64_t wstart; /* the last alert's window, minutes after T0 */
    } cases[] = {
        { "two large in one window", { { "a", "A", "2000", 0 }, { "b", "A", "2000", MIN_MS } },
          "account_id=A:a,b;", -5 },
        { "one large: below", { { "a", "A", "2000", 0 } }, "", 0 },
        { "exactly a window apart: no window holds both",
          { { "a", "A", "2000", 0 }, { "b", "A", "2000", 10 * MIN_MS } }, "", 0 },
        { "1 ms inside the window", { { "a", "A", "2000", 0 }, { "b", "A", "2000", 10 * MIN_MS - 1 } },
          "account_id=A:a,b;", 0 },
        { "across a slide boundary, one window holds both",
          { { "a", "A", "2000", 5 * MIN_MS - 1 }, { "b", "A", "2000", 5 * MIN_MS + 1 } },
          "account_id=A:a,b;", 0 },
        { "9 minutes apart, but no aligned window holds both",
          { { "a", "A", "2000", 5 * MIN_MS - 1 }, { "b", "A", "2000", 14 * MIN_MS } }, "", 0 },
        { "the earliest window that scores is reported",
          { { "a", "A", "2000", 6 * MIN_MS }, { "b", "A", "2000", 7 * MIN_MS } },
          "account_id=A:a,b;", 0 },
        { "keys apart", { { "a", "A", "2000", 0 }, { "b", "B", "2000", MIN_MS } }, "", 0 },
        { "an if band: 3 in the window (+10) and one large (+10)",
          { { "s", "A", "5", 0 }, { "t", "A", "5", MIN_MS }, { "b", "A", "2000", 2 * MIN_MS } },
          "account_id=A:b;", -5 },
        { "the completing transaction is evidence too",
          { { "b", "A", "2000", 0 }, { "s", "A", "5", MIN_MS }, { "t", "A", "5", 2 * MIN_MS } },
          "account_id=A:b,t;", -5 },
        { "one alert per episode; the next episode alerts again",
          { { "a", "A", "2000", 0 }, { "b", "A", "2000", MIN_MS }, { "c", "A", "2000", 2 * MIN_MS },
            { "d", "A", "5", 30 * MIN_MS }, { "e", "A", "2000", 31 * MIN_MS },
            { "f", "A", "2000", 32 * MIN_MS } },
          "account_id=A:a,b;account_id=A:e,f;", 25 },
        { "out of order within the lateness: judged, evidence in time order",
          { { "b", "A", "2000", 3 * MIN_MS }, { "a", "A", "2000", 2 * MIN_MS } },
          "account_id=A:a,b;", -5 },
    };
    fw_lang_rules *rs = lang_load_ok(doc(""));
    for (size_t i = 0; i < N(cases); i++) {
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        feed(st, cases[i].r, N(cases[i].r), &s);
        printf("case %zu (%s): got \"%s\", want \"%s\"\n", i, cases[i].name, s.got, cases[i].want);
        assert_string_equal(s.got, cases[i].want);
        if (s.n) {
            printf("  window start %lld min, want %lld\n", (long long)((s.wstart - T0) / MIN_MS),
                   (long long)cases[i].wstart);
            assert_int_equal(s.wstart, T0 + cases[i].wstart * MIN_MS);
        }
        fw_lang_state_destroy(st);
    }
    fw_lang_rules_destroy(rs);
}

/* avg_before: the average of the key's earlier amounts, forgotten after
 * memory + dedupe_window of quiet; the reason carries the computed values. */
static void test_avg_before(void **state) {
    (void)state;
    static const char *json =
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"avg\", \"type\": "
        "\"score\", \"group_by\": \"account_id\", \"window\": \"1h\", \"slide\": \"10m\", "
        "\"avg_before\": \"amount\", \"memory\": \"1h\", \"where\": \"amount > 0\", "
        "\"bands\": [{\"name\": \"large\", \"each\": \"avg_before is not missing and amount > 3 * "
        "avg_before\", \"points\": 50}], \"alert_at\": 50, "
        "\"severity_by_score\": [{\"at\": 50, \"severity\": \"high\"}], "
        "\"reason\": \"score {score}: {large} for {amount} within {window}\"}]}";
    static const struct {
        const char *name;
        rec r[6];
        const char *want;
    } cases[] = {
        { "the first has no average", { { "a", "A", "1000", 0 } }, "" },
        { "above 3x the earlier average", { { "a", "A", "100", 0 }, { "b", "A", "301", MIN_MS } },
          "account_id=A:b;" },
        { "exactly 3x: not above", { { "a", "A", "100", 0 }, { "b", "A", "300", MIN_MS } }, "" },
        { "the average is of the earlier ones only (b is not in its own)",
          { { "a", "A", "100", 0 }, { "c", "A", "200", MIN_MS }, { "b", "A", "451", 2 * MIN_MS } },
          "account_id=A:b;" },
        { "where: amount 0 is not averaged",
          { { "a", "A", "100", 0 }, { "z", "A", "0", MIN_MS }, { "b", "A", "301", 2 * MIN_MS } },
          "account_id=A:b;" },
        { "kept across quiet shorter than memory",
          { { "a", "A", "100", 0 }, { "b", "A", "301", 60 * MIN_MS } }, "account_id=A:b;" },
        { "forgotten after more quiet than memory",
          { { "a", "A", "100", 0 }, { "b", "A", "301", 60 * MIN_MS + 1 } }, "" },
        { "a transaction outside where keeps the memory alive",
          { { "a", "A", "100", 0 }, { "z", "A", "0", 40 * MIN_MS },
            { "b", "A", "301", 90 * MIN_MS } }, "account_id=A:b;" },
    };
    fw_lang_rules *rs = lang_load_ok(json);
    for (size_t i = 0; i < N(cases); i++) {
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        feed(st, cases[i].r, N(cases[i].r), &s);
        printf("case %zu (%s): got \"%s\", want \"%s\"\n", i, cases[i].name, s.got, cases[i].want);
        assert_string_equal(s.got, cases[i].want);
        if (i == 1) {
            printf("  reason \"%s\", severity %d\n", s.reason, (int)s.sev);
            assert_string_equal(s.reason, "score 50: 50 for 301 within 1h");
            assert_int_equal(s.sev, FW_SEV_HIGH);
        }
        fw_lang_state_destroy(st);
    }
    fw_lang_rules_destroy(rs);
}

/* Points and alert_at: constants and $params are worked out once per state
 * (per rule: five score rules, two of them sharing a cache slot), while
 * points or a threshold that read the record are the current record's; an
 * `each` band with negative points rules out the window bound. Each alert is
 * "rule:evidence;". */
static void on_rule_alert(void *opaque, const fw_lang_alert *a) {
    sink *s = opaque;
    size_t o = strlen(s->got);
    o += (size_t)snprintf(s->got + o, sizeof(s->got) - o, "%s:", a->rule->id);
    for (size_t i = 0; i < a->nevidence; i++)
        o += (size_t)snprintf(s->got + o, sizeof(s->got) - o, "%s%.*s", i ? "," : "",
                              (int)a->evidence[i].id.len, a->evidence[i].id.ptr);
    snprintf(s->got + o, sizeof(s->got) - o, ";");
    s->n++;
}

#define PT_RULE(id, acct, band, points, at)                                                  \
    "{\"id\": \"" id "\", \"type\": \"score\", \"group_by\": \"account_id\", \"where\": "      \
    "\"account_id == \\\"" acct "\\\"\", \"window\": \"10m\", \"slide\": \"5m\", \"params\": " \
    "{\"p\": " points "}, \"bands\": [" band "], \"alert_at\": " at ", \"episodes\": true}"
#define PT_LARGE "{\"name\": \"large\", \"each\": \"amount > 1000\", \"points\": \"$p\"}"

static void test_points(void **state) {
    (void)state;
    static const char *json =
        "{\"time\": {\"dedupe_window\": \"0s\", \"allowed_lateness\": \"5m\"}, \"rules\": ["
        /* 0 and 4 share a cache slot: 10 points each, and 5 */
        PT_RULE("c0", "A", PT_LARGE, "10", "20") ", "
        /* points read the record: amount / 100 for every event of the window */
        PT_RULE("c1", "B", "{\"name\": \"any\", \"each\": \"amount > 0\", \"points\": "
                "\"amount / 100\"}", "0", "50") ", "
        /* a threshold that reads the record */
        PT_RULE("c2", "C", PT_LARGE, "10", "\"amount / 100\"") ", "
        /* a small transaction takes 10 points away */
        PT_RULE("c3", "A", PT_LARGE ", {\"name\": \"small\", \"each\": \"amount < 10\", "
                "\"points\": -10}", "10", "20") ", "
        PT_RULE("c4", "A", PT_LARGE, "5", "20") "]}";
    static const struct {
        const char *name;
        rec r[6];
        const char *want;
    } cases[] = {
        { "two large: 20 for c0 and c3, 10 for c4",
          { { "a", "A", "2000", 0 }, { "b", "A", "2000", MIN_MS } }, "c0:a,b;c3:a,b;" },
        { "four large: c4 reaches 20 too",
          { { "a", "A", "1500", 0 }, { "b", "A", "1500", MIN_MS }, { "c", "A", "1500", 2 * MIN_MS },
            { "d", "A", "1500", 3 * MIN_MS } },
          "c0:a,b;c3:a,b;c4:a,b,c,d;" },
        { "points of the last record: 2 x 30 reach 50",
          { { "a", "B", "500", 0 }, { "b", "B", "3000", MIN_MS } }, "c1:a,b;" },
        { "points of the last record: 2 x 5 do not",
          { { "a", "B", "3000", 0 }, { "b", "B", "500", MIN_MS } }, "" },
        { "the last record's threshold: 10 reaches 4",
          { { "a", "C", "1100", 0 }, { "b", "C", "400", MIN_MS } }, "c2:a,b;" },
        { "the last record's threshold: 10 does not reach 11",
          { { "a", "C", "400", 0 }, { "b", "C", "1100", MIN_MS } }, "" },
        { "negative points: the window after the small one scores 20",
          { { "s", "A", "5", 0 }, { "a", "A", "2000", 6 * MIN_MS }, { "b", "A", "2000", 7 * MIN_MS } },
          "c0:a,b;c3:a,b;" },
        { "negative points: every window with both large holds the small one",
          { { "a", "A", "2000", 0 }, { "s", "A", "5", MIN_MS }, { "b", "A", "2000", 2 * MIN_MS } },
          "c0:a,b;" },
    };
    fw_lang_rules *rs = lang_load_ok(json);
    for (size_t i = 0; i < N(cases); i++) {
        fw_lang_state *st = fw_lang_state_new(rs);
        sink s = { 0 };
        for (size_t j = 0; j < N(cases[i].r) && cases[i].r[j].id; j++) {
            tx x;
            mk(&x, &cases[i].r[j]);
            fw_lang_input in = { .txn = &x.t };
            fw_lang_eval(st, &in, INT64_MIN, on_rule_alert, &s);
        }
        printf("case %zu (%s): got \"%s\", want \"%s\"\n", i, cases[i].name, s.got, cases[i].want);
        assert_string_equal(s.got, cases[i].want);
        fw_lang_state_destroy(st);
    }
    fw_lang_rules_destroy(rs);
}

/* Handing the state over at every cut gives the same alerts as one run:
 * the events, the running average and the open episode survive. */
static void test_round_trip(void **state) {
    (void)state;
    static const rec r[] = {
        { "a", "A", "100", 0 },          { "x", "B", "2000", MIN_MS },
        { "b", "A", "2000", 2 * MIN_MS }, { "c", "A", "2000", 3 * MIN_MS },
        { "d", "A", "2000", 4 * MIN_MS }, { "y", "B", "2000", 5 * MIN_MS },
        { "e", "A", "5", 31 * MIN_MS },   { "f", "A", "2000", 32 * MIN_MS },
        { "g", "A", "2000", 33 * MIN_MS },
    };
    fw_lang_rules *rs = lang_load_ok(doc(", \"avg_before\": \"amount\""));
    fw_lang_state *one = fw_lang_state_new(rs);
    sink want = { 0 };
    feed(one, r, N(r), &want);
    printf("one run: %s\n", want.got);
    assert_string_equal(want.got, "account_id=A:b,c;account_id=B:x,y;account_id=A:f,g;");
    lang_assert_every_cut(rs, r, N(r), feed_text, want.got);
    /* Truncated bytes are refused, naming the rule. */
    lang_assert_truncated_refused(rs, r, 3, feed_text, 0, "account_id=A", "sc: state truncated");
    fw_lang_state_destroy(one);
    fw_lang_rules_destroy(rs);
}

/* Events leave after window + lateness; the key (its average) after memory +
 * dedupe + lateness of quiet; then nothing is left. */
static void test_expiry(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(", \"avg_before\": \"amount\", \"memory\": \"1h\""));
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    rec r[] = { { "a", "A", "5", 0 }, { "b", "A", "5", MIN_MS } };
    feed(st, r, N(r), &s);
    fw_lang_stats stats;
    fw_lang_state_stats(st, &stats);
    assert_int_equal(stats.keys, 1);
    assert_int_equal(stats.events, 2);
    /* b leaves once the watermark is past b + 10m window + 5m lateness */
    fw_lang_expire(st, T0 + 16 * MIN_MS); /* exactly at: kept */
    fw_lang_state_stats(st, &stats);
    assert_int_equal(stats.events, 1);
    fw_lang_expire(st, T0 + 16 * MIN_MS + 1);
    fw_lang_state_stats(st, &stats);
    printf("after 16m: %llu keys, %llu events; want 1, 0\n", (unsigned long long)stats.keys,
           (unsigned long long)stats.events);
    assert_int_equal(stats.keys, 1);
    assert_int_equal(stats.events, 0);
    size_t freed = fw_lang_expire(st, T0 + MIN_MS + 65 * MIN_MS); /* exactly at: kept */
    assert_int_equal(freed, 0);
    freed = fw_lang_expire(st, T0 + MIN_MS + 65 * MIN_MS + 1);
    fw_lang_state_stats(st, &stats);
    printf("freed %zu, %llu keys, %llu events left; want 1, 0, 0\n", freed,
           (unsigned long long)stats.keys, (unsigned long long)stats.events);
    assert_int_equal(freed, 1);
    assert_int_equal(stats.keys, 0);
    assert_int_equal(stats.events, 0);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
}

static void test_load_errors(void **state) {
    (void)state;
    static const char *band = "\"bands\": [{\"name\": \"b\", \"each\": \"amount > 1\", \"points\": 1}]";
    static const struct {
        const char *rule, *want;
    } cases[] = {
        { "\"group_by\": \"account_id\", \"alert_at\": 1, BAND",
          "rules[0]: a score rule needs \"window\"" },
        { "\"window\": \"1h\", \"alert_at\": 1, BAND", "rules[0]: a score rule needs \"group_by\"" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1",
          "rules[0]: a score rule needs \"bands\"" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", BAND",
          "rules[0]: a score rule needs \"alert_at\"" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"slide\": \"7m\", \"alert_at\": 1, BAND",
          "rules[0].slide: the slide must divide the window" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bands\": "
          "[{\"name\": \"b\", \"each\": \"true\", \"if\": \"true\", \"points\": 1}]",
          "rules[0].bands[0]: a band has one of \"each\"" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bands\": "
          "[{\"name\": \"b\", \"each\": \"true\", \"pionts\": 1}]",
          "rules[0].bands[0].pionts: unknown key in a band, did you mean \"points\"?" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bands\": "
          "[{\"name\": \"b\", \"each\": \"ammount > 1\", \"points\": 1}]",
          "rules[0].bands[0].each: unknown field \"ammount\", did you mean \"amount\"?" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bands\": "
          "[{\"name\": \"b\", \"each\": \"amount > avg_before\", \"points\": 1}]",
          "rules[0].bands[0]: avg_before needs the rule's \"avg_before\"" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"aggregates\": "
          "{\"count\": \"count\"}, \"bands\": [{\"name\": \"b\", \"if\": \"cont > 1\", \"points\": 1}]",
          "rules[0].bands[0].if: unknown field \"cont\", did you mean \"count\"?" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bands\": "
          "[{\"name\": \"score\", \"each\": \"true\", \"points\": 1}]",
          "rules[0].bands[0]: band name \"score\" is taken" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": \"lots\", BAND",
          "rules[0].alert_at: unknown" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, BAND, "
          "\"severity_by_score\": [{\"at\": 5, \"severity\": \"high\"}, {\"at\": 5, "
          "\"severity\": \"critical\"}]",
          "rules[0].severity_by_score[1]: steps go up" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, \"bandz\": []",
          "rules[0].bandz: unknown key in a score rule, did you mean \"bands\"?" },
        { "\"group_by\": \"account_id\", \"window\": \"1h\", \"alert_at\": 1, BAND, \"reason\": "
          "\"{scor}\"",
          "rules[0].reason: unknown placeholder {scor}, did you mean \"score\"?" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        char json[1024], rule[768], err[1024] = "";
        fw_lang_rules *rs = NULL;
        const char *at = strstr(cases[i].rule, "BAND");
        if (at)
            snprintf(rule, sizeof(rule), "%.*s%s%s", (int)(at - cases[i].rule), cases[i].rule,
                     band, at + 4);
        else
            snprintf(rule, sizeof(rule), "%s", cases[i].rule);
        snprintf(json, sizeof(json), "{\"rules\": [{\"id\": \"s\", \"type\": \"score\", %s}]}",
                 rule);
        fw_err rc = lang_load(json, &rs, err, sizeof(err));
        printf("case %zu: %s\n  want prefix %s\n", i, err, cases[i].want);
        assert_int_not_equal(rc, FW_OK);
        assert_null(rs);
        assert_memory_equal(err, cases[i].want, strlen(cases[i].want));
    }
}

/* rules show writes a score back in the input format; it loads again to the
 * same text. */
static void test_write_back(void **state) {
    (void)state;
    fw_lang_rules *rs = lang_load_ok(doc(", \"avg_before\": \"amount\", \"severity_by_score\": "
                                    "[{\"at\": 30, \"severity\": \"critical\"}]"));
    fw_buf b, b2;
    fw_buf_init(&b, 0);
    fw_buf_init(&b2, 0);
    assert_true(fw_buf_puts(&b, "{\"rules\": [") && fw_lang_rules_write_json(rs, &b, "") &&
                fw_buf_puts(&b, "]}") && fw_buf_putc(&b, '\0'));
    printf("%s\n", b.data);
    assert_non_null(strstr(b.data, "\"type\": \"score\""));
    assert_non_null(strstr(b.data, "\"window\": \"10m\""));
    assert_non_null(strstr(b.data, "\"slide\": \"5m\""));
    assert_non_null(strstr(b.data, "{ \"name\": \"busy\", \"if\": \"n >= $many\", \"points\": "
                                   "\"$many * 3 + 1\" }"));
    assert_non_null(strstr(b.data, "\"severity_by_score\": [ { \"at\": 30, \"severity\": "
                                   "\"critical\" } ]"));
    fw_lang_rules *again = lang_load_ok(b.data);
    assert_true(fw_buf_puts(&b2, "{\"rules\": [") && fw_lang_rules_write_json(again, &b2, "") &&
                fw_buf_puts(&b2, "]}") && fw_buf_putc(&b2, '\0'));
    assert_string_equal(b.data, b2.data);
    fw_lang_rules_destroy(again);
    fw_buf_fini(&b);
    fw_buf_fini(&b2);
    fw_lang_rules_destroy(rs);
}

/* A `signal` band scores each transaction of the key on which an earlier
 * rule raised an alert; the signal rule must come first and share the key. */
static void test_signal(void **state) {
    (void)state;
    static const char *head =
        "{\"time\": {\"dedupe_window\": \"0s\"}, \"rules\": [{\"id\": \"big\", \"type\": "
        "\"filter\", \"group_by\": %s, \"when\": \"amount > 1000\"}, {\"id\": \"typ\", "
        "\"type\": \"score\", \"group_by\": \"account_id\", \"window\": \"10m\", "
        "\"slide\": \"5m\", \"bands\": [{\"name\": \"bigs\", \"signal\": \"%s\", "
        "\"points\": 10}], \"alert_at\": 20}]}";
    char json[1024];
    snprintf(json, sizeof(json), head, "\"account_id\"", "big");
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *st = fw_lang_state_new(rs);
    sink s = { 0 };
    rec r[] = { { "a", "A", "2000", 0 }, { "m", "A", "5", 30000 }, { "b", "A", "2000", MIN_MS } };
    feed(st, r, N(r), &s);
    printf("  got \"%s\"\n", s.got);
    assert_string_equal(s.got, "account_id=A:a;account_id=A:b;account_id=A:a,b;");
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    static const struct {
        const char *group, *sig, *want;
    } bad[] = {
        { "\"account_id\"", "bgi", "rules[1].bands[0].signal: expected the id of a language rule "
          "written before this one, got \"bgi\", did you mean \"big\"?" },
        { "\"account_id\"", "typ", "rules[1].bands[0].signal: expected the id of a language rule "
          "written before this one, got \"typ\"" },
        { "\"card_id\"", "big", "rules[1].bands[0].signal: rule \"big\" is grouped by other "
          "fields: a signal is counted on the same key" },
    };
    for (size_t i = 0; i < N(bad); i++) {
        char err[1024] = "";
        fw_lang_rules *no = NULL;
        snprintf(json, sizeof(json), head, bad[i].group, bad[i].sig);
        fw_err rc = lang_load(json, &no, err, sizeof(err));
        printf("case %zu: %s\n  want prefix %s\n", i, err, bad[i].want);
        assert_int_not_equal(rc, FW_OK);
        assert_memory_equal(err, bad[i].want, strlen(bad[i].want));
    }
}

/* docs/rule-language.md's score example loads and scores as the page says. */
static void test_cookbook(void **state) {
    (void)state;
    char *doc = lang_read_cookbook();
    char *json = lang_cookbook_block(doc, "### A risk score per account, three signals weighted");
    assert_non_null(json);
    fw_lang_rules *rs = lang_load_ok(json);
    fw_lang_state *st = fw_lang_state_new(rs);
    static const struct {
        const char *id, *amt, *cat, *cp;
        int64_t h;
    } r[] = { { "c1", "100", "crypto", "P1", 0 }, { "c2", "100", "grocery", "P2", 1 },
              { "c3", "1000", "grocery", "P3", 2 } };
    sink s = { 0 };
    for (size_t i = 0; i < N(r); i++) {
        tx x;
        rec one = { r[i].id, "A", r[i].amt, r[i].h * 60 * MIN_MS };
        mk(&x, &one);
        x.t.merchant_category = fw_str_c(r[i].cat);
        x.t.counterparty_id = fw_str_c(r[i].cp);
        fw_lang_input in = { .txn = &x.t };
        fw_lang_eval(st, &in, INT64_MIN, on_alert, &s);
    }
    printf("  %s | %s | severity %d\n", s.got, s.reason, (int)s.sev);
    assert_string_equal(s.got, "account_id=A:c1,c3;");
    assert_string_equal(s.reason, "score 45: crypto 10, large 20, 3 counterparties within 24h");
    assert_int_equal(s.sev, FW_SEV_MEDIUM);
    fw_lang_state_destroy(st);
    fw_lang_rules_destroy(rs);
    free(json);
    free(doc);
}

/* A busy key's valid panes against a recount of its ring: every slot holding
 * counts holds its pane's, and every event in a band finds its pane. */
static bool panes_match(const lkey *k, const char *when, size_t step) {
    const lsc_panes *p = k->sc_panes;
    if (!p || !p->valid)
        return true;
    for (uint32_t s = 0; s < p->np; s++) {
        uint32_t want[SCORE_BITS] = { 0 };
        for (uint32_t j = 0; j < k->n; j++) {
            const lev *e = &k->ev[(k->head + j) % k->cap];
            int64_t pane = e->ts / p->slide_ms - (e->ts % p->slide_ms < 0);
            if (pane == p->id[s])
                for (uint32_t m = e->mask & ((1u << p->nb) - 1); m; m &= m - 1)
                    want[__builtin_ctz(m)]++;
            if ((e->mask & ((1u << p->nb) - 1)) && p->id[pane & (p->np - 1)] != pane) {
                printf("%s, step %zu, key %.*s: the event at %lld has no slot for pane %lld\n",
                       when, step, (int)k->keylen, k->key, (long long)e->ts, (long long)pane);
                return false;
            }
        }
        for (uint32_t b = 0; b < p->nb; b++) {
            if (p->cnt[s * p->nb + b] != want[b]) {
                printf("%s, step %zu, key %.*s: pane %lld band %u kept %u, recount %u\n", when,
                       step, (int)k->keylen, k->key, (long long)p->id[s], b,
                       p->cnt[s * p->nb + b], want[b]);
                return false;
            }
        }
    }
    return true;
}

/* The band counts a score key keeps for its bound (lang_score_cnt) against
 * a recount of its ring: every score key of @p st; false (and both printed)
 * at the first difference. */
static bool counts_match(const fw_lang_state *st, const char *when, size_t step, size_t *nkeys,
                         size_t *npanes) {
    for (size_t ti = 0; ti < st->ntab; ti++) {
        const ltab *t = &st->tab[ti];
        for (size_t b = 0; t->score && b < t->nbucket; b++) {
            for (const lkey *k = t->bucket[b]; k; k = k->next) {
                uint32_t want[SCORE_BITS] = { 0 };
                const uint32_t *got = lang_score_cnt(t, k);
                for (uint32_t j = 0; j < k->n; j++)
                    for (uint32_t m = k->ev[(k->head + j) % k->cap].mask & 0xffffu; m; m &= m - 1)
                        want[__builtin_ctz(m)]++;
                for (size_t c = 0; c < SCORE_BITS; c++) {
                    if (got[c] != want[c]) {
                        printf("%s, step %zu, key %.*s (%u events): band %zu kept %u, "
                               "recount %u\n", when, step, (int)k->keylen, k->key, k->n, c,
                               got[c], want[c]);
                        return false;
                    }
                }
                if (!panes_match(k, when, step))
                    return false;
                (*nkeys)++;
                *npanes += k->sc_panes && k->sc_panes->valid;
            }
        }
    }
    return true;
}

/* The bound's band counts equal a recount after every record of random
 * sequences: in order, out of order within the lateness, jumps past the
 * window (eviction) and past memory (reset), rings filling up to
 * max_window_events (the oldest makes room) and growing, the watermark's
 * expiry, and the state handed over through the changelog (read_key). */
static void test_band_counts(void **state) {
    (void)state;
    static const char *json =
        "{\"time\": {\"dedupe_window\": \"0s\", \"allowed_lateness\": \"5m\"}, "
        "\"limits\": {\"max_window_events\": 10}, \"rules\": [{\"id\": \"sc\", \"type\": "
        "\"score\", \"group_by\": \"account_id\", \"window\": \"10m\", \"slide\": \"5m\", "
        "\"memory\": \"30m\", \"aggregates\": {\"n\": \"count\"}, \"bands\": ["
        "{\"name\": \"large\", \"each\": \"amount > 1000\", \"points\": 10}, "
        "{\"name\": \"busy\", \"if\": \"n >= 6\", \"points\": 5}, "
        "{\"name\": \"tiny\", \"each\": \"amount < 10\", \"points\": 3}], "
        "\"alert_at\": 60}]}";
    static const char *amounts[] = { "5", "100", "2000", "3000", "7" };
    static const char *accts[] = { "A", "B", "C" };
    fw_lang_rules *rs = lang_load_ok(json);
    for (unsigned seed = 1; seed <= 4; seed++) {
        fw_lang_state *st = fw_lang_state_new(rs);
        st->sc_pane_min = 0; /* panes for every key: they are checked too */
        uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
        int64_t now = 0;
        size_t checked = 0, paned = 0, late = 0, jumps = 0, resets = 0, handed = 0;
        uint64_t overflow = 0;
        sink s = { 0 };
        for (size_t step = 0; step < 4000; step++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            uint32_t r = (uint32_t)(x >> 33), pick = r % 100;
            int64_t dt;
            char id[24];
            if (pick < 70) { /* in order: most records */
                now += (int64_t)(r >> 8) % 20000;
                dt = now;
            } else if (pick < 88) { /* out of order, within the lateness */
                dt = now - (int64_t)(r >> 8) % (5 * MIN_MS);
                late++;
            } else if (pick < 97) { /* past the window: its events leave */
                now += 11 * MIN_MS + (int64_t)(r >> 8) % (10 * MIN_MS);
                dt = now;
                jumps++;
            } else { /* past the memory: the key starts afresh */
                now += 31 * MIN_MS + (int64_t)(r >> 8) % (30 * MIN_MS);
                dt = now;
                resets++;
            }
            snprintf(id, sizeof(id), "t%zu", step);
            rec one = { id, accts[(r >> 4) % N(accts)], amounts[(r >> 12) % N(amounts)], dt };
            feed(st, &one, 1, &s);
            if (step % 50 == 49)
                fw_lang_expire(st, T0 + now - 5 * MIN_MS);
            if (!counts_match(st, "eval", step, &checked, &paned))
                fail_msg("seed %u: kept band counts differ from a recount", seed);
            if (step % 97 == 96) { /* a rebalance: the counts are rebuilt from the events */
                fw_lang_state *to = fw_lang_state_new(rs);
                to->sc_pane_min = 0;
                fw_lang_stats was;
                fw_lang_state_stats(st, &was);
                overflow += was.overflow;
                lang_hand_over(st, to);
                fw_lang_state_destroy(st);
                st = to;
                handed++;
                if (!counts_match(st, "read_key", step, &checked, &paned))
                    fail_msg("seed %u: band counts after read_key differ from a recount", seed);
            }
        }
        fw_lang_stats stats;
        fw_lang_state_stats(st, &stats);
        overflow += stats.overflow;
        printf("seed %u: %zu keys checked (%zu with panes), %zu late, %zu past the window, %zu past memory, "
               "%zu hand-overs, %llu overflowed, %zu alerts: kept counts == recount\n",
               seed, checked, paned, late, jumps, resets, handed, (unsigned long long)overflow, s.n);
        assert_true(late && jumps && resets && handed && overflow && paned);
        fw_lang_state_destroy(st);
    }
    fw_lang_rules_destroy(rs);
}

/* Alerts as text, every one: rule, entity, window, reason (score, bands,
 * aggregates) and evidence, in a buffer that grows. */
typedef struct alog {
    char *buf;
    size_t len, cap, n;
} alog;

static void log_alert(void *opaque, const fw_lang_alert *a) {
    alog *g = opaque;
    char line[1536] = "";
    int n = snprintf(line, sizeof(line), "%s|%lld|%.*s|", a->rule->id,
                     (long long)(a->window_start - T0), (int)a->reason.len, a->reason.ptr);
    lang_alert_append(line + n, sizeof(line) - (size_t)n, a);
    size_t len = strlen(line);
    if (g->len + len + 2 > g->cap) {
        g->cap = (g->cap + len + 2) * 2;
        g->buf = realloc(g->buf, g->cap);
        assert_non_null(g->buf);
    }
    memcpy(g->buf + g->len, line, len);
    g->len += len;
    g->buf[g->len++] = '\n';
    g->buf[g->len] = '\0';
    g->n++;
}

/* Busy keys score the same from panes as by walking their events: the same
 * random records (two busy accounts, late ones within the lateness and some
 * far behind it, which leave the panes invalid until rebuilt) give the same
 * alerts, reasons and evidence with panes never, past SCORE_PANE_MIN events
 * (the default) and always. */
static void test_panes_equal_walk(void **state) {
    (void)state;
#define PW_BANDS                                                                              \
    "\"aggregates\": {\"n\": \"count\", \"d\": \"count_distinct(amount)\"}, \"bands\": ["      \
    "{\"name\": \"large\", \"each\": \"amount > 1000\", \"points\": 10}, "                     \
    "{\"name\": \"tiny\", \"each\": \"amount < 10\", \"points\": 3}, "
#define PW_RULE(id, more, ifband, at)                                                       \
    "{\"id\": \"" id "\", \"type\": \"score\", \"group_by\": \"account_id\", \"window\": "     \
    "\"10m\", \"slide\": \"2m\", " more PW_BANDS ifband "], \"alert_at\": " at                    \
    ", \"reason\": \"{score} {large} {tiny} {n} {d}\"}"
    static const char *json =
        "{\"time\": {\"dedupe_window\": \"0s\", \"allowed_lateness\": \"5m\"}, \"rules\": ["
        PW_RULE("ep", "\"episodes\": true, ",
                "{\"name\": \"varied\", \"if\": \"d >= 5\", \"points\": 5}", "400") ","
        PW_RULE("all", "", "{\"name\": \"varied\", \"if\": \"d >= 5\", \"points\": 5}", "300") ","
        PW_RULE("neg", "", "{\"name\": \"calm\", \"if\": \"n < 300\", \"points\": -50}", "250")
        "]}";
#undef PW_RULE
#undef PW_BANDS
    static const char *amounts[] = { "5", "100", "2000", "3000", "7", "50", "60", "70" };
    static const uint32_t modes[] = { UINT32_MAX, SCORE_PANE_MIN, 0 };
    fw_lang_rules *rs = lang_load_ok(json);
    for (unsigned seed = 1; seed <= 3; seed++) {
        alog got[N(modes)] = { { 0 } };
        size_t invalid = 0, far = 0;
        for (size_t mo = 0; mo < N(modes); mo++) {
            fw_lang_state *st = fw_lang_state_new(rs);
            st->sc_pane_min = modes[mo];
            uint64_t x = seed * 0x9e3779b97f4a7c15ULL;
            int64_t now = 0;
            for (size_t step = 0; step < 6000; step++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                uint32_t r = (uint32_t)(x >> 33), pick = r % 100;
                int64_t dt = now += (int64_t)(r >> 8) % 4000;
                if (pick >= 80 && pick < 99) /* late, within the lateness */
                    dt = now - (int64_t)(r >> 8) % (5 * MIN_MS);
                else if (pick == 99) { /* far behind: the panes cannot hold it */
                    dt = now - 30 * MIN_MS - (int64_t)(r >> 8) % (60 * MIN_MS);
                    far += mo == 0;
                }
                char id[24];
                snprintf(id, sizeof(id), "t%zu", step);
                rec one = { id, (r >> 4) & 1 ? "A" : "B", amounts[(r >> 12) % N(amounts)], dt };
                tx t;
                mk(&t, &one);
                fw_lang_input in = { .txn = &t.t };
                fw_lang_eval(st, &in, INT64_MIN, log_alert, &got[mo]);
                for (size_t ti = 0; mo == 2 && ti < st->ntab; ti++)
                    for (size_t b = 0; b < st->tab[ti].nbucket; b++)
                        for (const lkey *k = st->tab[ti].bucket[b]; k; k = k->next)
                            invalid += k->sc_panes && !k->sc_panes->valid;
            }
            fw_lang_state_destroy(st);
        }
        printf("seed %u: %zu alerts walking, %zu past %d events, %zu always from panes "
               "(%zu far behind, panes left invalid %zu times)\n", seed, got[0].n, got[1].n,
               SCORE_PANE_MIN, got[2].n, far, invalid);
        for (size_t mo = 1; mo < N(modes); mo++) {
            size_t i = 0;
            if (got[0].len == got[mo].len && !memcmp(got[0].buf, got[mo].buf, got[0].len))
                continue;
            while (i < got[0].len && i < got[mo].len && got[0].buf[i] == got[mo].buf[i])
                i++;
            while (i > 0 && got[0].buf[i - 1] != '\n')
                i--;
            fail_msg("seed %u, mode %zu: first difference:\n  walk:  %.200s\n  panes: %.200s",
                     seed, mo, got[0].buf + i, got[mo].buf + i);
        }
        assert_true(got[0].n > 1000 && far && invalid);
        for (size_t mo = 0; mo < N(modes); mo++)
            free(got[mo].buf);
    }
    fw_lang_rules_destroy(rs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scoring),     cmocka_unit_test(test_avg_before),
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_load_errors), cmocka_unit_test(test_write_back),
        cmocka_unit_test(test_cookbook),    cmocka_unit_test(test_signal),
        cmocka_unit_test(test_band_counts), cmocka_unit_test(test_panes_equal_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
